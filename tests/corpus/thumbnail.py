# POST an image, get a 32x32 grayscale thumbnail back as a PNG.
import sys

from PIL import Image

from httpout import response

image = Image.open(sys.stdin.buffer)
image.load()
thumb = image.convert('L').resize((32, 32))

response.set_content_type('image/png')
thumb.save(sys.stdout.buffer, format='PNG')
