"""Read models of meetings fed by the meetings topic, and their rebuild from the event store.

- ``meeting_view``: each meeting with its program (upcoming meetings for front ends);
- ``participant_view``: every registration with its status (the operators' participant
  list, a municipality's registrations); waiting positions are computed when read;
- ``availability_view``: seats, taken, free, waiting and seats taken under the offer.

One module per job: :mod:`.migrations` (the tables), :mod:`.writer` (applying events),
:mod:`.rebuild` (from the event store, while the service runs), :mod:`.queries` (what the
API reads). The same :func:`.writer.apply_many` serves the Kafka subscriber and the
rebuild, so a rebuild gives what the live projection gives.
"""
