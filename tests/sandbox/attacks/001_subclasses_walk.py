# attack: walk object.__subclasses__() to reach os._wrap_close
# expect: rejected SB202
class Attack(Strategy):
    def on_data(self, bar):
        for cls in ().__class__.__bases__[0].__subclasses__():
            if cls.__name__ == "_wrap_close":
                cls.__init__.__globals__["system"]("touch /tmp/strategylab_attack_canary.txt")
