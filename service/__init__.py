"""care's REST service and command line."""
