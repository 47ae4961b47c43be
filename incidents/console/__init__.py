"""The operator console: a web desk for a regional control centre over the incident topics.

A downstream consumer of the project's own contracts (docs/contracts.md): it reads
``incidents``, ``incidents.events``, ``mentions.resolved`` and ``mentions.dlq``
into a local view (:mod:`incidents.console.view`), serves it as server-rendered
pages (:mod:`incidents.console.web`), and turns every operator action into an
``IncidentCommand`` or ``OfficialResponse`` on the documented topics, so the
pipeline stays the single writer of incidents. See docs/console.md.
"""
