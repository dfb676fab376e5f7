"""After promotion: a registered version scores batches under its own contract (`trainer predict`)
and new data is checked against the profile it recorded at registration (`trainer monitor`)."""
