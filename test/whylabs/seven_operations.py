"""The seed's own Python client, whylabs-client, calls all seven SessionsApi
operations against a WhyLabs server (the emulator on loopback in the tests),
and PUTs a profile to the upload URL it was given, as whylogs does.

    python seven_operations.py BASE_URL API_KEY ORG_ID

Prints one JSON object: what each operation returned (as whylabs-client
deserialized it, with its own type checks). Exits 1 on the first error.
"""
import json
import sys
import urllib.request

import whylabs_client
from whylabs_client.api import sessions_api
from whylabs_client.model.batch_log_reference_request import BatchLogReferenceRequest
from whylabs_client.model.create_session_request import CreateSessionRequest
from whylabs_client.model.get_profile_observatory_link_request import GetProfileObservatoryLinkRequest
from whylabs_client.model.log_async_request import LogAsyncRequest
from whylabs_client.model.log_reference_request import LogReferenceRequest
from whylabs_client.model.segment_tag import SegmentTag

base_url, api_key, org_id = sys.argv[1], sys.argv[2], sys.argv[3]
configuration = whylabs_client.Configuration(host=base_url)
configuration.api_key["ApiKeyAuth"] = api_key
out = {"client": whylabs_client.__version__}

with whylabs_client.ApiClient(configuration) as api_client:
    api = sessions_api.SessionsApi(api_client)

    created = api.create_session(CreateSessionRequest(user_id="python-user"))
    session_id = created.id
    out["create_session"] = {"id": session_id}

    got = api.get_session(session_id)
    out["get_session"] = {
        "session_id": got.session.session_id,
        "org_id": got.session.org_id,
        "model_id": got.session.model_id,
        "user_id": got.session.user_id,
    }

    upload = api.create_dataset_profile_upload(
        session_id,
        LogAsyncRequest(dataset_timestamp=1700000000000, segment_tags=[SegmentTag(key="region", value="eu")]),
    )
    out["create_dataset_profile_upload"] = {
        "id": upload.id,
        "dataset_id": upload.dataset_id,
        "observatory_url": upload.observatory_url,
        "upload_timestamp": upload.get("upload_timestamp"),
    }
    # What whylogs does next: a plain PUT of the profile bytes to the presigned URL, with no API key.
    profile = b"whylogs profile bytes from python " * 100
    put = urllib.request.Request(upload.upload_url, data=profile, method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(put) as response:
        out["put_status"] = response.status
    out["put_size"] = len(profile)

    reference = api.create_reference_profile_upload(
        session_id, LogReferenceRequest(alias="training", dataset_timestamp=1690000000000)
    )
    out["create_reference_profile_upload"] = {"id": reference.id, "alias": reference.alias, "model_id": reference.model_id}

    batch = api.batch_create_reference_profile_upload(
        session_id,
        BatchLogReferenceRequest(references=[LogReferenceRequest(alias="a"), LogReferenceRequest(alias="b", dataset_timestamp=1)]),
    )
    out["batch_create_reference_profile_upload"] = {
        "aliases": [r.alias for r in batch.references],
        "observatory_url": batch.observatory_url,
    }

    link = api.get_session_profile_observatory_link(
        session_id,
        GetProfileObservatoryLinkRequest(batch_profile_timestamps=[1700000000000], reference_profile_ids=[reference.id]),
    )
    out["get_session_profile_observatory_link"] = {
        "observatory_url": link.observatory_url,
        "individual_observatory_urls": list(link.individual_observatory_urls),
    }

    claimed = api.claim_guest_session(session_id, org_id)
    out["claim_guest_session"] = claimed

print(json.dumps(out))
