"""The membership service: municipalities join KL's networks for a calendar year."""
