# attack: an async function (coroutine frames)
# expect: rejected SB401
class Attack(Strategy):
    async def later(self):
        pass

    def on_data(self, bar):
        pass
