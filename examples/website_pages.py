import kcore
from kcore.kinds import ConfigMap


@kcore.kind("example.com/v1", "Website")
class Website(kcore.Object):
    pages: int = 1


@kcore.controller(Website, owns=[ConfigMap])
async def websites(ctx, req):
    names = [f"{req.name}-{i}" for i in range(ctx.object.pages if ctx.object else 0)]
    await ctx.own(ConfigMap, [ConfigMap(metadata=kcore.ObjectMeta(name=n)) for n in names])


kcore.run(websites)
