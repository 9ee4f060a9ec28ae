# attack: fullwidth letters that Python normalises (NFKC) to eval
# expect: rejected SB301
class Attack(Strategy):
    def on_data(self, bar):
        x = ｅｖａｌ("1 + 1")
