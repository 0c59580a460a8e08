# A shopping cart kept as a pickled blob (as in a session store), and
# copied before a what-if change.
import copy
import pickle


class Cart:
    def __init__(self, owner):
        self.owner = owner
        self.lines = {}

    def add(self, product, qty=1):
        self.lines[product] = self.lines.get(product, 0) + qty

    def __repr__(self):
        return 'Cart(%r, %r)' % (self.owner, self.lines)


cart = Cart('ann')
cart.add('tea', 2)
cart.add('cake')

blob = pickle.dumps(cart)
restored = pickle.loads(blob)
print('restored:', restored, type(restored) is Cart)

what_if = copy.deepcopy(cart)
what_if.add('tea', 10)
print('original:', cart)
print('what if:', what_if)
print('shallow copy shares lines:', copy.copy(cart).lines is cart.lines)
