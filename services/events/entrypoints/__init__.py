"""HTTP routes, Kafka subscribers and the AsyncAPI document of the events service."""
