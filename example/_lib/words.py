import random

HELLOS = ['Hello', 'Hi', 'Hey', 'Greetings', 'Howdy']


def hello():
    return random.choice(HELLOS)
