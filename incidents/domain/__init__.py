"""Pure logic: what a post says, where, whether it is a copy, which incident it joins.

No Kafka, no ClickHouse, no settings tree: stages receive frozen policies
(``incidents.domain.policy``). ``DATA`` holds the shipped dictionaries and models.
"""

from pathlib import Path

DATA = Path(__file__).with_name("data")
