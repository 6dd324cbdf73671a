"""Appeals in the database, one module per step (rulebook section 7).

- ``intake``: the platform's appeals taken in from the watermark (``collect_appeals``,
  task ``collect_appeals_task``), checked by ``models.plans.appeal_intake``.
- ``rulings``: the office's rulings and the committee's decisions (``record_ruling``,
  ``record_committee_decision`` and their tasks); the statuses and which may follow
  which are the core's rule, ``models.rules.appeals``.
- ``recompute``: the recomputation after a ruling: its loads
  (``load_recompute_snapshot``), its saves (``save_recompute``) and the whole step
  under the category's lock (``recompute_ruling``, task ``recompute_task``).
- ``explain``: what ``assess explain`` shows about one cell (``load_explain``,
  ``explain_task``).
- ``publish``: a year's results published (``publish_year``).
- ``notices``: the digests the steps queue (refusals, appeal outcomes, corrected
  annual results).
- ``reads``: the reads the steps share (a unit's cells and rulings, a cell's raw
  observation, the month's standing rulings for the monthly run).

Import from the modules (``from tasks.appeals.rulings import record_ruling``).
"""
