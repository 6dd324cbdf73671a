"""The catalog: its schema and checks (pure, `schema`), its vocabulary, and its file formats."""
