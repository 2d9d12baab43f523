"""The domain: organization, procedures catalogue, service-task handlers, demo data."""
