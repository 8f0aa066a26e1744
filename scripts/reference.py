"""HrFlow's own connector (hrflow-connectors==0.2.0), run as the seed's CATCH example runs it:
PushProfile then EnrichProfile for each profile, one after the other.

The bench (`examples/bench.rs`) starts the stand-ins and runs this script against them:
    python scripts/reference.py HRFLOW_URL FLATCHR_URL KEYS_FILE
HRFLOW_URL serves /profile/indexing and the resumes; FLATCHR_URL serves Flatchr's routes. The
Flatchr URLs that 0.2.0 hard-codes are redirected by overriding each action's `base_url`
property, and nothing else of the connector is changed. KEYS_FILE holds one profile key a line.

It prints one JSON line: profiles, ok, failed, wall_s and cpu_s (CPU of the loop alone, so
interpreter start-up and imports are not charged to the connector), and cpu_total_s.
"""
import json
import sys
import time

from hrflow import Hrflow
from hrflow_connectors.connectors.destinations.flatchr import EnrichProfile, PushProfile
from hrflow_connectors.core.auth import AuthorizationAuth
from hrflow_connectors.utils.hrflow import Profile, Source

hrflow_url, flatchr_url, keys_file = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3]
keys = [line.strip() for line in open(keys_file) if line.strip()]


class StandInPush(PushProfile):
    @property
    def base_url(self):
        return flatchr_url + "/vacancy/candidate/json"


class StandInEnrich(EnrichProfile):
    @property
    def base_url(self):
        return "{}/company/{}/search/candidate".format(flatchr_url, self.compagny)


# The seed's workflow builds its client per event; one client for all is kinder to 0.2.0.
client = Hrflow(api_url=hrflow_url.rstrip("/") + "/", api_secret="k", api_user="bench@example.org")
auth = AuthorizationAuth(value="k")
ok = failed = 0
wall = time.perf_counter()
cpu = time.process_time()
for key in keys:
    profile = Profile(key=key, source=Source(key="s"))
    try:
        StandInPush(auth=auth, subdomain="careers", hrflow_client=client, profile=profile,
                    vacancy="v").execute()
        StandInEnrich(auth=auth, subdomain="api", hrflow_client=client, profile=profile,
                      vacancy="v", compagny="c").execute()
        ok += 1
    except Exception as e:  # noqa: BLE001 - a CATCH workflow logs and goes on
        failed += 1
        print("failed", key, type(e).__name__, e, file=sys.stderr)
print(json.dumps({
    "profiles": len(keys), "ok": ok, "failed": failed,
    "wall_s": time.perf_counter() - wall,
    "cpu_s": time.process_time() - cpu,
    "cpu_total_s": time.process_time(),
}))
