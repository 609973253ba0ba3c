"""KL's network services: membership, events (meetings and registrations), notifications."""
