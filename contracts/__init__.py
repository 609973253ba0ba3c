"""Wire contracts of KL's network services.

Everything that crosses a process boundary is defined here: the CloudEvents envelope
(Kafka binary mode), the event payload models with their major versions, and the registry
that maps a CloudEvents ``type`` to its model. Services translate these at their edges;
their domain packages never import this package.
"""
