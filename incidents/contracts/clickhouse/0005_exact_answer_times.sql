-- Answer times an official can compare between two screenshots (docs/oversight.md#answer-times).
--
-- Every median and p90 of an answer time is now computed at query time with
-- quantilesExactInclusive over `responses` (one row per official answer, written
-- once by the sink): exact, and the same number on every run. The reservoir states
-- of response_times_daily (quantilesState: 8,192 sampled values a state, merged in
-- whatever order the threads finish) were neither exact nor repeatable above 8,192
-- answers a slice: four runs of one query gave four medians, 1-4 % off.
--
-- Nothing reads those states any more. The column and its view stay for this
-- release, so that dashboards and reports of the previous release keep working
-- during an upgrade (docs/deployment.md: nothing is dropped in the release that
-- stops using it); a later migration drops them. The comment tells anyone who
-- describes the table.

ALTER TABLE {{db}}.response_times_daily {{on_cluster}}
    COMMENT COLUMN response_s_q 'deprecated, not read: a sampled state (8,192 values), not repeatable, exact quantiles are quantilesExactInclusive(0.5, 0.9)(response_s) over responses';
