"""Which estimator made a number of a reconstruction report: the :class:`Source` enum, the
words the headline's sentence uses for each, and the sources each ``--estimator`` accepts.

Kept free of NumPy so that the light Python API (:mod:`qtomo.api`) can read a report's
``estimator`` field without loading the reconstruction.
"""

from __future__ import annotations

import enum


class Source(enum.Enum):
    """Which estimator made a number (the report's ``estimator`` field is the value)."""

    MODEL_MLE = "model MLE"
    MODEL_PROJECTED = "model projected"
    BLEND = "blend"
    MODEL_SAMPLES = "model samples"
    RAW_MLE = "raw-frequency MLE"
    RAW_PROJECTED = "raw-frequency projected"
    DIRECT = "direct"
    #: The protocol of a planned design (:mod:`qtomo.reconstruction.lab_scale`).
    LAB_SCALE = "lab-scale"

    @property
    def from_model(self) -> bool:
        """Whether the model's table or samples enter the number (the consistency check judges
        these; a blend at weight 1 is still the model route's result)."""
        return self in (Source.MODEL_MLE, Source.MODEL_PROJECTED, Source.BLEND,
                        Source.MODEL_SAMPLES)


#: Each source in a few words, for the headline's sentence.
NAMES = {
    Source.MODEL_MLE: "the model's maximum-likelihood state",
    Source.MODEL_PROJECTED: "the model's projected state",
    Source.BLEND: "the model's state blended with the shots' frequencies",
    Source.MODEL_SAMPLES: "the model's samples",
    Source.RAW_MLE: "the raw-frequency maximum-likelihood state",
    Source.RAW_PROJECTED: "the raw frequencies' projected state",
    Source.DIRECT: "the direct estimate from the shots",
    Source.LAB_SCALE: "the lab-scale protocol of the planned design",
}

#: The sources each ``--estimator`` accepts (``auto``: the headline policy chooses).
REQUESTED: dict[str, tuple[Source, ...]] = {
    "model": (Source.MODEL_MLE, Source.MODEL_PROJECTED),
    "blend": (Source.BLEND,),
    "raw-mle": (Source.RAW_MLE,),
    "direct": (Source.DIRECT,),
}


__all__ = ["NAMES", "REQUESTED", "Source"]
