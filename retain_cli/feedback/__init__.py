"""Customer feedback: survey tokens and what a survey template sees (:mod:`.survey`), answers
from replies and form exports (:mod:`.answers`), NPS and CSAT (:mod:`.scores`), sentiment
(:mod:`.sentiment`, VADER for English), recurring themes (:mod:`.themes`) and ``retain
feedback`` (:mod:`.report`)."""
