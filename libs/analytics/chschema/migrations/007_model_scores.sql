-- The learned model's probability and identity on each score
-- (Score.model_score, Score.model: "<model id>/<shadow|blend|replace>"), so
-- that a model in shadow mode can be compared with the rules on live
-- traffic (dashboard bulwark-rules, panel "Model vs rules"). NULL where no
-- model scored the subject.
-- 18.16 has no ADD COLUMN IF NOT EXISTS: Apply treats "column exists" as done.
ALTER TABLE {{.DB}}.scores ADD COLUMN model_score Nullable(Float64) AFTER scorer, ADD COLUMN model {{lc}} AFTER model_score;
