# A build-status badge, drawn with Pillow and sent as a PNG.
import io
import sys

from PIL import Image, ImageDraw

from httpout import request, response

status = request.query.get('status', ['passing'])[0]
color = (46, 160, 67) if status == 'passing' else (207, 34, 46)

image = Image.new('RGB', (90, 20), (85, 85, 85))
draw = ImageDraw.Draw(image)
draw.rectangle((45, 0, 89, 19), fill=color)

buffer = io.BytesIO()
image.save(buffer, format='PNG')

response.set_content_type('image/png')
response.set_header('Cache-Control', 'max-age=60')
sys.stdout.buffer.write(buffer.getvalue())
