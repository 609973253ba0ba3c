"""The events service: network meetings, their programs, seats, registrations and waiting lists."""
