"""Learning from support verdicts: a supervised river model per event type.

Support staff confirm an alert as fraud or legitimate, sometimes days later. The alert
keeps the model input vector it was decided on (``Decision.learn_input``), so the
verdict can still teach the model: ``learn(event_type, inputs, fraud)``. Once a type's
model has seen both outcomes ``min_verdicts`` times together, its probability takes part
in decisions (see :func:`VerdictLearner.adjust`).

>>> vl = VerdictLearner(min_verdicts=4)
>>> fraud = {"new_device": 1.0, "distance": 9.0, "amount": 9.0}
>>> honest = {"new_device": 0.0, "distance": 0.5, "amount": 4.0}
>>> vl.probability("payment", fraud) is None      # not enough verdicts yet
True
>>> for _ in range(20):
...     vl.learn("payment", fraud, True)
...     vl.learn("payment", honest, False)
>>> vl.probability("payment", fraud) > 0.8 > 0.2 > vl.probability("payment", honest)
True
"""

from __future__ import annotations

from collections.abc import Mapping

from river import linear_model, optim, preprocessing


class _TypeLearner:
    def __init__(self) -> None:
        self.model = preprocessing.StandardScaler() | linear_model.LogisticRegression(
            optimizer=optim.SGD(0.2), l2=1e-4
        )
        self.fraud = 0
        self.legit = 0


class VerdictLearner:
    """Online logistic regression on confirmed outcomes, one model per event type.
    Plain attributes only: pickles with the partition's state."""

    def __init__(self, min_verdicts: int = 20) -> None:
        self.min_verdicts = min_verdicts
        self._models: dict[str, _TypeLearner] = {}
        self.trained = False  # any verdict learned yet (a cheap check per event)

    def learn(self, event_type: str, inputs: Mapping[str, float], fraud: bool) -> None:
        learner = self._models.get(event_type)
        if learner is None:
            learner = self._models[event_type] = _TypeLearner()
        learner.model.learn_one(dict(inputs), fraud)
        self.trained = True
        if fraud:
            learner.fraud += 1
        else:
            learner.legit += 1

    def ready(self, event_type: str) -> bool:
        learner = self._models.get(event_type)
        return (
            learner is not None
            and min(learner.fraud, learner.legit) >= self.min_verdicts // 2
            and learner.fraud + learner.legit >= self.min_verdicts
        )

    def probability(self, event_type: str, inputs: Mapping[str, float]) -> float | None:
        """P(fraud) for an event's model inputs, or None while the type has too few
        verdicts to be trusted."""
        if not self.ready(event_type):
            return None
        proba = self._models[event_type].model.predict_proba_one(dict(inputs))
        return float(proba.get(True, 0.0))

    def counts(self) -> dict[str, tuple[int, int]]:
        """(fraud, legitimate) verdicts learned per event type."""
        return {t: (m.fraud, m.legit) for t, m in self._models.items()}
