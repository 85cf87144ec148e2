"""The monthly Unknown-instance digest: its Block Kit, its delivery by DM, `/usage digest`.

No listeners of its own (its commands are routed by `/usage`)."""
