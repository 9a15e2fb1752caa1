"""The official deepset-cloud-sdk uploads against the emulator: `upload` (files and
`.meta.json` companions from a folder, blocking, with its progress bars) and
`upload_texts` (in-memory texts with meta, blocking). API_URL / API_KEY come
from the environment, as users set them. Prints one JSON line per upload."""
import json
import sys
from pathlib import Path

from deepset_cloud_sdk.workflows.sync_client.files import DeepsetCloudFile, upload, upload_texts

folder, workspace = sys.argv[1], sys.argv[2]

summary = upload(
    paths=[Path(folder)],
    workspace_name=workspace,
    blocking=True,
    show_progress=True,
    timeout_s=120,
)
print(json.dumps({
    "call": "upload",
    "total": summary.total_files,
    "ok": summary.successful_upload_count,
    "failed": summary.failed_upload_count,
}), flush=True)

texts = [
    DeepsetCloudFile(text=f"text number {i}", name=f"text-{i:03d}.txt", meta={"index": i, "lang": "en"})
    for i in range(25)
]
summary = upload_texts(files=texts, workspace_name=workspace, blocking=True, show_progress=True, timeout_s=120)
print(json.dumps({
    "call": "upload_texts",
    "total": summary.total_files,
    "ok": summary.successful_upload_count,
    "failed": summary.failed_upload_count,
}), flush=True)
