"""The embedded BPMN engine around SpiffWorkflow (no Flask here)."""
