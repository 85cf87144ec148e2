"""`/usage mine` and `/usage team`: a list of accounts, worst first, a page at a time.

No listeners of its own (its commands are routed by `/usage`)."""
