"""Writes what hrflow-connectors 0.2.0 sends to Flatchr for every fixture profile.

Run with the 0.2.0 package installed (Python 3.8):
    python scripts/golden.py ../shared/fixtures/profiles tests/golden
For each profile it writes `<name>.json` = {"push": ..., "enrich": ...}, where a body that
0.2.0 cannot build is {"crash": "<exception>"}. The resume download is replaced by a fixed
payload (base64 of b"resume-bytes") so no network is used.
"""
import base64, glob, json, os, sys
from unittest import mock

from hrflow_connectors.connectors.destinations.flatchr.actions import EnrichProfile, PushProfile

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)


class FakeResponse:
    content = b"resume-bytes"


class Self:
    vacancy = "k0M5O9ylKZnxbQBy"


def attempt(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - recording 0.2.0's crash is the point
        return {"crash": "%s: %s" % (type(e).__name__, e)}


for path in sorted(glob.glob(os.path.join(src, "*.json"))):
    profile = json.load(open(path))
    with mock.patch("requests.get", return_value=FakeResponse()):
        push = attempt(lambda: PushProfile.format(Self(), json.loads(json.dumps(profile))))
    enrich = attempt(lambda: EnrichProfile.format(Self(), json.loads(json.dumps(profile))))
    name = os.path.basename(path)
    with open(os.path.join(out, name), "w") as f:
        json.dump({"push": push, "enrich": enrich}, f, indent=1, ensure_ascii=False, sort_keys=True)
    print(name, "push" if "crash" not in push else "push-crash", "enrich" if "crash" not in enrich else "enrich-crash")
