import errno
import json
import os
import resource

import aws_cdk as cdk

limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
size = min(limit if limit > 0 else 8 << 20, 8 << 20) - 4096  # under the file limit, at most 8 MB
chunk = b"x" * size
report = {}
last = None
for folder in ("/job/fill", "/tmp/fill", "/out/fill"):
    files = written = 0
    try:
        os.makedirs(folder, exist_ok=True)
        for i in range(200):
            with open(f"{folder}/f{i}", "wb") as fh:
                fh.write(chunk)
            files += 1
            written += size
        report[folder] = [files, written, None]
    except OSError as exc:
        last = exc
        report[folder] = [files, written, errno.errorcode.get(exc.errno)]
print("FILL-REPORT " + json.dumps(report), flush=True)
if last is not None:
    raise last
app = cdk.App()
cdk.Stack(app, "Filled")
app.synth()
