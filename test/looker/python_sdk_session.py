"""The official Python looker-sdk against the Looker emulator: log in, read
and update the session, log out. Settings come from LOOKERSDK_* (set by the
test); prints one JSON line of what it saw."""
import json
import sys

import looker_sdk
from looker_sdk import models40 as models

sdk = looker_sdk.init40()
seen = {}
seen["before"] = sdk.session().workspace_id
seen["dev"] = sdk.update_session(models.WriteApiSession(workspace_id="dev")).workspace_id
seen["after_dev"] = sdk.session().workspace_id
seen["sudo_user_id"] = sdk.session().sudo_user_id
seen["production"] = sdk.update_session(models.WriteApiSession(workspace_id="production")).workspace_id
try:
    sdk.update_session(models.WriteApiSession(workspace_id="staging"))
    seen["unknown_workspace"] = "accepted"
except looker_sdk.error.SDKError as e:
    seen["unknown_workspace"] = type(e).__name__
seen["authenticated_before_logout"] = sdk.auth.is_authenticated
sdk.auth.logout()
seen["authenticated_after_logout"] = sdk.auth.is_authenticated
print(json.dumps(seen))
sys.stdout.flush()
