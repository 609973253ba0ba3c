"""The pure rules of notifications: who is told what, and when. No I/O."""
