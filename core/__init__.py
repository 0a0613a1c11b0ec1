"""What every domain needs: settings, database, members, access and text hygiene. Imports no domain."""
