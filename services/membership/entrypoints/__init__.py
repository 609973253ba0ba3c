"""HTTP routes, Kafka subscribers and the AsyncAPI document."""
