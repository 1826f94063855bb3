"""OPC UA collection over asyncua: sessions, subscriptions, writes, browsing."""
