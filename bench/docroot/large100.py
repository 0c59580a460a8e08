# 100,000,000 bytes: 1,000,000 printed lines of 100 bytes each
x = 'x' * 89

for i in range(1000000):
    print('%09d %s' % (i, x))
