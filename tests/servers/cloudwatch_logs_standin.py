"""CloudWatch Logs stand-in (named as such: nothing local implements it).
CreateLogStream and PutLogEvents, enforcing what the service enforces on a batch: at most
10,000 events and 1,048,576 bytes (each message's UTF-8 bytes + 26), events in time order,
spanning at most 24 hours, each message 1..262,118 bytes, the group and stream existing.
Accepted events are appended to --events FILE as JSON lines with the time they arrived,
so a test can see that lines arrived while the run was still going.
--throttle N answers ThrottlingException to the first N PutLogEvents calls."""
import json
import threading
import time

from aws_json_standin import ServiceError, serve

streams = set()
lock = threading.Lock()
throttled = [0]


def create_log_stream(args, request, entry):
    group, stream = request.get("logGroupName"), request.get("logStreamName")
    entry["stream"] = "%s/%s" % (group, stream)
    if group not in args.groups.split(","):
        raise ServiceError("ResourceNotFoundException", "The specified log group does not exist.")
    with lock:
        if (group, stream) in streams:
            raise ServiceError("ResourceAlreadyExistsException", "The specified log stream already exists")
        streams.add((group, stream))
    return 200, {}


def put_log_events(args, request, entry):
    group, stream = request.get("logGroupName"), request.get("logStreamName")
    events = request.get("logEvents", [])
    entry["events"] = len(events)
    with lock:
        if throttled[0] < args.throttle:
            throttled[0] += 1
            raise ServiceError("ThrottlingException", "Rate exceeded")
        if (group, stream) not in streams:
            raise ServiceError("ResourceNotFoundException", "The specified log stream does not exist.")
    if not 1 <= len(events) <= 10000:
        raise ServiceError("InvalidParameterException", "%d events in a batch" % len(events))
    size = sum(len(e["message"].encode()) + 26 for e in events)
    entry["bytes"] = size
    if size > 1048576:
        raise ServiceError("InvalidParameterException", "batch of %d bytes" % size)
    stamps = [e["timestamp"] for e in events]
    if stamps != sorted(stamps):
        raise ServiceError("InvalidParameterException", "log events not in chronological order")
    if stamps[-1] - stamps[0] > 24 * 3600 * 1000:
        raise ServiceError("InvalidParameterException", "batch spans more than 24 hours")
    for e in events:
        if not 1 <= len(e["message"].encode()) <= 262144 - 26:
            raise ServiceError("InvalidParameterException", "event message of %d bytes" % len(e["message"].encode()))
    now = int(time.time() * 1000)
    with lock, open(args.events, "a") as f:
        for e in events:
            f.write(json.dumps({"stream": "%s/%s" % (group, stream), "timestamp": e["timestamp"],
                                "message": e["message"], "received": now}) + "\n")
    return 200, {"nextSequenceToken": "0"}


serve({"CreateLogStream": create_log_stream, "PutLogEvents": put_log_events}, "logs",
      [("--groups", {"default": "kiln-test"}), ("--events", {"required": True}),
       ("--throttle", {"type": int, "default": 0})])
