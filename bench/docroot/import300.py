# imports a local module of 300 functions (bigmod300.py, written by run.py)
import bigmod300

print(bigmod300.hello())
