"""Read and write queries the bot and workflows ask of the database, one module per area."""
