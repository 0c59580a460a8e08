# The page everyone makes first: test.py, checking that the site works.
# This one runs a few unittest checks and shows the result.
import sys
import unittest


class SiteChecks(unittest.TestCase):
    def test_arithmetic(self):
        self.assertEqual(2 + 2, 4)

    def test_json(self):
        import json
        self.assertEqual(json.loads('[1]'), [1])


print('<pre>')
suite = unittest.defaultTestLoader.loadTestsFromTestCase(SiteChecks)
result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
print('</pre>')
print('<p>%s</p>' % ('all good' if result.wasSuccessful() else 'FAILED'))
