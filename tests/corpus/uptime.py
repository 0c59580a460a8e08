# Running a command and showing its output, with subprocess.run.
import html
import subprocess
import sys

done = subprocess.run([sys.executable, '-c', 'import sys; print("child says hi"); print(sys.stdin.read().upper())'],
                      input='from the page', capture_output=True, text=True, check=True)
print('<pre>%s</pre>' % html.escape(done.stdout))

failed = subprocess.run([sys.executable, '-c', 'raise SystemExit(3)'])
print('<p>exit status %d</p>' % failed.returncode)
