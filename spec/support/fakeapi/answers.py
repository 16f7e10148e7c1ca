"""What the fake service answers with: the flavors (which documented
generation of the service it plays), the documented error bodies and
messages, result paths in each CDN's shape, and the Answer a handler sends."""

import datetime
import email.utils
import http
import json
import time
import uuid

ANIMALS = ("tiger", "kangaroo", "hedgehog", "flamingo", "zebra", "panda", "otter", "lynx")
# What a create costs, as the docs' examples report it (v1.5 on its own page).
USAGE = {"bytedance/omnihuman": 5880000, "bytedance/omnihuman/v1.5": 5040000}
USAGE_DEFAULT = 5880000

FLAVORS = {
    "current": {"create_status": 200, "usage_field": "credits_used",
                "pending": ["queued", "generating"], "completed": "completed", "failed": "error",
                "nulls": True},
    "legacy": {"create_status": 201, "usage_field": "tokens_used",
               "pending": ["Waiting", "ACTIVE"], "completed": "Completed", "failed": "Error",
               "nulls": False},
}

# The messages the docs list for these statuses ("{rid}": the request id).
ERROR_MESSAGES = {
    400: "Body validation error",
    401: "This request requires a valid API key. You can create a new API key on the Billing page",
    403: "You've run out of credits. Please top up your balance or update your payment method to continue",
    404: "Not Found",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "The model is under maintenance, please contact us at help@aimlapi.com. Your Request ID is {rid}.",
    502: "Bad Gateway",
    503: "Service unavailable",
    504: "Generation timeout",
}

_date_cache = [0, ""]



def http_date():
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[1] = email.utils.formatdate(now, usegmt=True)
        _date_cache[0] = now
    return _date_cache[1]


def iso_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def reason(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def error_body(status, message=None, path=""):
    rid = str(uuid.uuid4())
    return json.dumps({
        "message": message or (ERROR_MESSAGES.get(status) or reason(status)).replace("{rid}", rid),
        "path": path,
        "requestId": rid,
        "statusCode": str(status),
        "timestamp": iso_now(),
    }).encode()


def result_path(model, uid):
    """Where a job's video lives on the CDN listener, in the path shape of
    the CDN that model's results come from."""
    animal = ANIMALS[int(uid[:8], 16) % len(ANIMALS)]
    if model.endswith("/v1.5"):
        return "/generations/%s/%d-%s.mp4" % (animal, int(time.time() * 1000), uid)
    return "/files/b/%s/%s_video.mp4" % (animal, uid)


def html_body(status):
    title = "%d %s" % (status, reason(status))
    return ("<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n"
            "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n" % (title, title)).encode()


class Answer:
    __slots__ = ("status", "body", "ctype", "headers")

    def __init__(self, status, body=b"", ctype="application/json", headers=None):
        self.status = status
        self.body = body
        self.ctype = ctype
        self.headers = headers or []


def json_answer(status, obj):
    return Answer(status, json.dumps(obj).encode())


def error_answer(status, message=None, path=""):
    return Answer(status, error_body(status, message, path))
