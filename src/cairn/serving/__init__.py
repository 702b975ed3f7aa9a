"""Serving: the model server, its prediction log and feedback, and deployments.

``serve(["credit-risk@champion"], port=8080)`` (or ``cairn serve``) runs a FastAPI + uvicorn
server that checks each request against the model's signature, predicts in micro-batches,
follows the alias it was given and logs every prediction. ``deploy("credit-risk/3")`` records
that an approved version was put into service.
"""

from cairn.serving.app import ServerOptions, create_app
from cairn.serving.prediction_log import PredictionLog, read_predictions, record_feedback
from cairn.serving.served import ServedModel
from cairn.serving.server import serve, serving_in_background

__all__ = [
    "PredictionLog",
    "ServedModel",
    "ServerOptions",
    "create_app",
    "read_predictions",
    "record_feedback",
    "serve",
    "serving_in_background",
]
