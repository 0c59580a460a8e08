# a blocking script: holds its worker thread for one second
import time

time.sleep(1)
print('Hello, World!')
