"""The Flask web application and the nadzor command line."""
