// The built-in rules, as data. Order matters: proxies first, then host rules, then syntax rules that work on any
// host, then filename-suffix rules gated by path (docs/cdn-rules.md, "Resolution order").
// Sources and confidence for every rule: /work/shared/cdn-url-rules.md, summarised in docs/cdn-rules.md.

private let image = #"(?:jpe?g|png|gif|webp|bmp|avif|heic)"#

extension CDNRule {
    /// The built-in rule table.
    public static let builtIn: [CDNRule] = proxies + hostRules + syntaxRules + suffixRules

    // MARK: Proxies: the origin is a wrapped URL, resolved again.

    static let proxies: [CDNRule] = [
        CDNRule(
            name: "netease-nimg", hosts: ["nimg.ws.126.net"],
            pattern: #"[?&]url=(?<inner>[^&#]+)"#,
            find: [#"[?&]thumbnail=(?<width>\d+)(?<mode>[xyz])(?<height>\d+)"#],
            origin: "${inner|url}", unwrap: true, modes: ["x": .fitInside, "y": .crop, "z": .cover]),
        CDNRule(
            name: "baidu-timg", hosts: ["*.baidu.com"], hostRegex: #"^timg[a-z0-9]*\.baidu\.com$"#,
            pattern: #"[?&]src=(?<inner>[^&#]+)"#,
            find: [#"[?&]size=[a-z](?<width>\d+)[_,](?<height>\d+)"#],
            origin: "${inner|url}", unwrap: true, mode: .fitInside),
        CDNRule(
            name: "baidu-gimg", hosts: ["*.baidu.com"], hostRegex: #"^gimg\d*\.baidu\.com$"#,
            pattern: #"^https?://[^/]+/image_search/src=(?<inner>[^&?#]+)"#,
            find: [#"[?&]size=[a-z](?<width>\d+)[_,](?<height>\d+)"#],
            origin: "${inner|url}", unwrap: true, mode: .fitInside),
        // Photon: https only when ssl=1; Photon's query (and the origin's own query) is dropped.
        CDNRule(
            name: "wordpress-photon", hosts: ["i0.wp.com", "i1.wp.com", "i2.wp.com", "i3.wp.com"],
            pattern: #"^https?://[^/]+/(?<rest>[^?#]+)\?(?:[^#]*&)?ssl=1(?:[&#]|$)"#,
            find: photonFinds, origin: "https://${rest}", unwrap: true, mode: .fitInside, modes: photonModes),
        CDNRule(
            name: "wordpress-photon", hosts: ["i0.wp.com", "i1.wp.com", "i2.wp.com", "i3.wp.com"],
            pattern: #"^https?://[^/]+/(?<rest>[^?#]+)"#,
            find: photonFinds, origin: "http://${rest}", unwrap: true, mode: .fitInside, modes: photonModes),
        CDNRule(
            name: "cloudinary-fetch", hosts: ["*.cloudinary.com", "substackcdn.com"],
            pattern:
                #"^https?://[^/]+/(?:[^/?#]+/)?image/fetch/(?:(?<scope>[^?#]*?)/)??(?<inner>https?(?::|%3A)[^#]*)$"#,
            find: cloudinaryFinds, origin: "${inner|url}", unwrap: true, mode: .fitInside, modes: cloudinaryModes),
        CDNRule(
            name: "thumbor", requires: ["/unsafe/"],
            pattern: #"^(?>https?://[^?#]+?/unsafe/)(?<scope>(?:[^/?#]+/)*?)(?<inner>https?(?::|%3A)[^#]*)$"#,
            find: [#"(?:^|/)(?<width>\d+)x(?<height>\d+)/"#, #"(?:^|/)(?<mode>fit-in)/"#],
            origin: "${inner|url}", unwrap: true, mode: .crop, modes: ["fit-in": .fitInside]),
        CDNRule(
            name: "github-camo", hosts: ["camo.githubusercontent.com"],
            pattern: #"^https?://[^/]+/[0-9a-fA-F]+/(?<hex>(?:[0-9a-fA-F]{2})+)(?:[?#].*)?$"#,
            origin: "${hex|hex}", unwrap: true),
        CDNRule(
            name: "github-camo", hosts: ["camo.githubusercontent.com"],
            pattern: #"^https?://[^/]+/[0-9a-fA-F]+\?(?:[^#]*&)?url=(?<inner>[^&#]+)"#,
            origin: "${inner|url}", unwrap: true),
    ]

    static let photonFinds = [
        #"[?&](?<mode>w|resize|fit)=(?<width>\d+)"#,
        #"[?&](?:h=|(?:resize|fit)=\d+(?:,|%2C|%2c))(?<height>\d+)"#,
    ]
    static let photonModes: [String: ResizeMode] = ["w": .fitInside, "resize": .crop, "fit": .fitInside]
    /// In a chain (`c_crop,w_400/c_scale,w_200`) each step works on the one before: the last size is the one shown.
    /// `w_0.5` is a fraction, not pixels.
    static let cloudinaryFinds = [
        #"(?:^|[,/])w_(?<width>\d+)(?![\d.])(?!.*[,/]w_\d)"#, #"(?:^|[,/])h_(?<height>\d+)(?![\d.])(?!.*[,/]h_\d)"#,
        #"(?:^|[,/])c_(?<mode>[a-z_]+)(?!.*[,/]c_[a-z])"#,
    ]
    static let cloudinaryModes: [String: ResizeMode] = [
        "fill": .crop, "lfill": .crop, "fill_pad": .fitInside, "crop": .crop, "thumb": .crop, "limit": .fitInside,
        "fit": .fitInside, "mfit": .cover, "pad": .fitInside, "lpad": .fitInside, "mpad": .fitInside,
        "scale": .exact,
    ]
    /// Cloudinary transformation parameter names (a path segment of `key_value,…` items).
    static let cloudinaryTransform =
        #"(?:a|ac|af|ar|b|bo|c|co|cs|d|dl|dn|dpr|du|e|eo|f|fl|fn|fps|g|h|if|ki|l|o|p|pg|q|r|so|sp|t|u|vc|vs|w|x|y|z)_[^,/?#]+"#

    // MARK: Host rules.

    static let hostRules: [CDNRule] = [
        CDNRule(
            name: "github-private-user-images", hosts: ["private-user-images.githubusercontent.com"],
            pattern:
                #"^https?://[^/]+/\d+/\d+-(?<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.\w+(?:[?#].*)?$"#,
            origin: "https://github.com/user-attachments/assets/${uuid}"),
        CDNRule(
            name: "netease-music", hosts: ["*.music.126.net"],
            pattern: #"^(?<origin>[^?#]+)\?(?:[^#]*&)?param=(?<width>\d+)(?<mode>[xyz])(?<height>\d+)"#,
            modes: ["x": .fitInside, "y": .crop, "z": .cover]),
        CDNRule(
            name: "yuque", hosts: ["cdn.nlark.com"],
            pattern: #"^(?<origin>[^?#]+)(?:\?[^#]*)?#(?<scope>.*)$"#,
            find: [#"(?:^|&)width=(?<width>\d+)"#, #"(?:^|&)height=(?<height>\d+)"#], mode: .fitInside),
        CDNRule(
            name: "csdn-fragment", hosts: ["img-blog.csdnimg.cn", "i-blog.csdnimg.cn"],
            pattern: #"^(?<origin>[^?#]+)#"#),
        CDNRule(
            name: "bytedance-fragment", hosts: ["*.byteimg.com"],
            pattern: #"^(?<origin>[^#]+)#"#),
        CDNRule(
            name: "huaban", hosts: ["hbimg.b0.upaiyun.com", "hbimg.huabanimg.com", "img.hb.aicdn.com"],
            pattern: #"^(?<origin>https?://[^/]+/[^?#_]+)_(?<mode>fw|sq)(?<width>\d+)(?:[a-z]*)(?:[?#].*)?$"#,
            modes: ["fw": .fitInside, "sq": .crop]),
        CDNRule(
            name: "sinaimg", hosts: ["*.sinaimg.cn"], hostRegex: #"^(?:ww|wx|wxt|tva|tvax)\d*\.sinaimg\.cn$"#,
            pattern:
                #"^(?<base>https?://[^/]+/)(?:(?<mode>mw|orj|thumb)(?<width>\d+)|(?<size>thumbnail|small|bmiddle|square|large))/(?<rest>[^?#]+)"#,
            origin: "${base}large/${rest}", sizes: ["bmiddle": 440], mode: .fitInside,
            modes: ["thumb": .crop, "square": .crop], signed: ["Expires", "ssig", "KID"]),
        CDNRule(
            name: "sinaimg-ss", hosts: ["*.sinaimg.cn"], hostRegex: #"^ss\d*\.sinaimg\.cn$"#,
            pattern:
                #"^(?<base>https?://[^/]+/)(?:(?<mode>mw|orj|thumb)(?<width>\d+)|(?<size>thumbnail|small|bmiddle|square|large|orignal))/(?<rest>[^?#]+)"#,
            origin: "${base}orignal/${rest}", sizes: ["bmiddle": 440], mode: .fitInside,
            modes: ["thumb": .crop, "square": .crop]),
        CDNRule(
            name: "sinaimg-tc", hosts: ["tc.sinaimg.cn"],
            pattern: #"^(?<base>https?://[^/]+/)maxwidth\.(?<width>\d+)/(?<rest>[^?#]+)"#,
            origin: "${base}original/${rest}", mode: .fitInside),
        CDNRule(
            name: "sinaimg-n", hosts: ["n.sinaimg.cn"],
            pattern: #"^(?<head>https?://[^?#]*/\d+_)img(?<tail>/[^?#]+)"#,
            origin: "${head}ori${tail}"),
        CDNRule(
            name: "baidu",
            hosts: ["imgsrc.baidu.com", "imgsa.baidu.com", "tiebapic.baidu.com", "*.hiphotos.baidu.com"],
            pattern:
                #"^(?<base>https?://[^/]+/[^/]+/)(?<scope>w(?:=|%3D|%3d)\d+|wh(?:=|%3D|%3d)\d+(?:,|%2C|%2c)\d+)/sign=[^/]+/(?<file>[^/?#]+)"#,
            find: [#"^wh?(?:=|%3D|%3d)(?<width>\d+)"#, #"^wh(?:=|%3D|%3d)\d+(?:,|%2C|%2c)(?<height>\d+)"#],
            origin: "${base}pic/item/${file}", mode: .fitInside),
        CDNRule(
            name: "zhihu", hosts: ["*.zhimg.com"],
            pattern:
                #"^(?<base>https?://[^/]+/)(?:\d+/)?(?<id>(?:v2-)?[0-9a-f]{32})_(?<scope>[0-9a-z]+)(?<ext>\.\w+)(?<query>\?[^#]*)?(?:#.*)?$"#,
            find: [#"^(?<width>\d+)(?:w|x(?<height>\d+))$"#], origin: "${base}${id}_r${ext}${query}", mode: .fitInside),
        CDNRule(
            name: "wechat", hosts: ["mmbiz.qpic.cn", "mmbiz.qlogo.cn"],
            pattern: #"^(?<base>https?://[^/]+/mmbiz(?:_[a-z]+)?/[^/?#]+/)(?<width>\d+)(?:[?#].*)?$"#,
            origin: "${base}0", mode: .fitInside),
        CDNRule(
            name: "tencent-news", hosts: ["inews.gtimg.com"],
            pattern: #"^(?<base>https?://[^/]+/)newsapp_(?:bt|ls)/0/(?<id>\d+)/(?<width>\d+)(?:[?#].*)?$"#,
            origin: "${base}newsapp_match/0/${id}/0", mode: .fitInside),
        CDNRule(
            name: "sohu", hosts: ["img.mp.itc.cn", "*.itc.cn"],
            pattern: #"^(?<head>https?://[^?#]+?)_th(?<ext>\.\w+)(?:[?#].*)?$"#, origin: "${head}${ext}"),
        CDNRule(
            name: "bilibili-suffix", hosts: ["*.hdslb.com"],
            pattern: #"^(?<origin>https?://[^?#@]+?\.\#(image))_(?<width>\d+)x(?<height>\d+)\.\w+(?:[?#].*)?$"#,
            mode: .crop),
        CDNRule(
            name: "douban", hosts: ["*.doubanio.com"],
            pattern:
                #"^(?<base>https?://[^/]+/view/photo/)(?:s|m|l|sqxs|photo|[sml]_ratio_poster)/public/(?<id>p\d+)\.\w+(?:[?#].*)?$"#,
            origin: "${base}raw/public/${id}.jpg"),
        CDNRule(
            name: "imgix", hosts: ["images.unsplash.com", "plus.unsplash.com", "*.imgix.net"],
            pattern: #"^(?<origin>[^#]*)"#,
            find: [
                #"[?&](?:w|max-w)=(?<width>\d+)"#, #"[?&](?:h|max-h)=(?<height>\d+)"#, #"[?&]fit=(?<mode>[a-z]+)"#,
            ],
            mode: .fitInside,
            modes: [
                "crop": .crop, "clip": .fitInside, "max": .fitInside, "min": .cover, "scale": .exact,
                "fill": .fitInside, "facearea": .crop, "clamp": .fitInside,
            ],
            removeParams: [
                "w", "h", "max-w", "max-h", "min-w", "min-h", "fit", "crop", "auto", "dpr", "q", "fm", "cs", "ar",
                "rect", "fp-x", "fp-y", "fp-z",
            ],
            signed: ["s"]),
        // `s--<8 characters>--/` signs the transformation; the original of an `upload` asset needs no signature, so
        // it goes with them. `authenticated` and `private` originals need one: the URL stays as written.
        CDNRule(
            name: "cloudinary-upload", hosts: ["*.cloudinary.com"],
            pattern:
                #"^(?<base>https?://[^/]+/(?:[^/?#]+/)?(?:image|video)/upload/)(?:s--[A-Za-z0-9_-]{8}--/)?(?<scope>(?:\#(cloudinaryTransform)(?:,\#(cloudinaryTransform))*/)+)(?<rest>[^?#]+)"#,
            find: cloudinaryFinds, origin: "${base}${rest}", mode: .fitInside, modes: cloudinaryModes),
        CDNRule(
            name: "cloudinary-signed", hosts: ["*.cloudinary.com"],
            pattern:
                #"^https?://[^/]+/(?:[^/?#]+/)?(?:image|video)/(?:authenticated|private)/s--[A-Za-z0-9_-]{8}--/(?<scope>(?:\#(cloudinaryTransform)(?:,\#(cloudinaryTransform))*/)+)[^?#]+"#,
            find: cloudinaryFinds, mode: .fitInside, modes: cloudinaryModes),
        CDNRule(
            name: "imgur", hosts: ["i.imgur.com"],
            pattern:
                #"^(?<base>https?://[^/]+/)(?<id>[A-Za-z0-9]{7}|[A-Za-z0-9]{5})(?:(?<size>[sbtmlhrg])|_d)(?<ext>\.\w+)(?:\?(?<scope>[^#]*))?(?:#.*)?$"#,
            find: [#"(?:^|&)maxwidth=(?<width>\d+)"#], origin: "${base}${id}${ext}",
            sizes: ["s": 90, "b": 160, "t": 160, "m": 320, "l": 640, "h": 1024], mode: .longEdge,
            modes: ["s": .crop, "b": .crop]),
        CDNRule(
            name: "medium", hosts: ["miro.medium.com", "cdn-images-1.medium.com"],
            pattern: #"^(?<base>https?://[^/]+/v2/)(?<scope>(?:[a-z]+:[^/?#]+/)+)(?<file>[^/?#]+)"#,
            find: [#"(?:^|/)resize:(?<mode>fit|fill):(?<width>\d+)(?::(?<height>\d+))?"#],
            origin: "${base}${file}", modes: ["fit": .fitInside, "fill": .crop]),
        CDNRule(
            name: "medium-legacy", hosts: ["miro.medium.com", "cdn-images-1.medium.com"],
            pattern: #"^(?<base>https?://[^/]+/)(?<scope>max/\d+|fit/(?:c/)?\d+/\d+)/(?<file>[^/?#]+)"#,
            find: [#"^max/(?<width>\d+)"#, #"^fit/(?<mode>c/)?(?<width>\d+)/(?<height>\d+)"#],
            origin: "${base}${file}", mode: .fitInside, modes: ["c/": .crop]),
        CDNRule(
            name: "shopify", hosts: ["cdn.shopify.com"],
            pattern:
                #"^(?<head>https?://[^?#]+/(?:products|files|collections)/[^/?#]+?)_(?<scope>(?:\d*x\d*|pico|icon|thumb|small|compact|medium|large|grande|master)(?:_crop_[a-z]+)?(?:@\dx)?)(?:\.progressive)?(?<ext>\.\w+)(?<query>\?[^#]*)?(?:#.*)?$"#,
            find: [#"^(?<width>\d+)x(?<height>\d*)"#, #"^x(?<height>\d+)"#, #"^(?<size>[a-z]+)"#],
            origin: "${head}${ext}${query}",
            sizes: [
                "pico": 16, "icon": 32, "thumb": 50, "small": 100, "compact": 160, "medium": 240, "large": 480,
                "grande": 600,
            ],
            mode: .fitInside, removeParams: ["width", "height", "crop"]),
        CDNRule(
            name: "shopify-query", hosts: ["cdn.shopify.com"], subject: .queryItem,
            pattern: #"^width=(?<width>\d+)$"#, mode: .fitInside, removeParams: ["height", "crop"]),
        CDNRule(
            name: "google", hosts: ["*.googleusercontent.com", "*.ggpht.com"],
            pattern: #"^(?<base>https?://[^/]+/[^=?#]+)=(?<scope>[a-z]+\d*(?:-[a-z]+\d*)*)(?:[?#].*)?$"#,
            find: googleFinds, origin: "${base}=s0", mode: .fitInside, modes: googleModes),
        CDNRule(
            name: "blogger", hosts: ["*.bp.blogspot.com", "blogger.googleusercontent.com"],
            pattern:
                #"^(?<head>https?://[^/]+/(?:img/b/[^/]+/[^/]+|[^/]+/[^/]+/[^/]+/[^/]+))/(?<scope>[swh]\d+(?:-[a-z]+\d*)*|d)/(?<file>[^/?#]+)"#,
            find: googleFinds, origin: "${head}/s0/${file}", mode: .fitInside, modes: googleModes),
        // Flickr: live.staticflickr.com (2017-), farmN/cN.staticflickr.com (2011-), farmN.static.flickr.com and
        // static.flickr.com (2004-2011); `_d` (a download link) after the size letter. The sizes from `h` up, and
        // `o`, have their own secret, so the URL stays as written.
        CDNRule(
            name: "flickr", hosts: ["*.staticflickr.com", "*.flickr.com"], hostRegex: flickrHosts,
            pattern: #"^(?<origin>https?://[^?#]+/\d+_[0-9a-f]+_(?<size>[sqtmnwzcbhko]|[3-6]k)(?:_d)?\.\w+)"#,
            sizes: flickrSizes, mode: .longEdge, modes: ["s": .crop, "q": .crop]),
        // No size letter: the 500-pixel default. The engine keys `sizes` by the `size` capture, so the rule captures
        // the extension there (only these sizes are JPEG).
        CDNRule(
            name: "flickr-default", hosts: ["*.staticflickr.com", "*.flickr.com"], hostRegex: flickrHosts,
            pattern: #"^(?<origin>https?://[^?#]+/\d+_[0-9a-f]+(?:_d)?(?<size>\.jpg))(?:[?#].*)?$"#,
            sizes: [".jpg": 500], mode: .longEdge),
        CDNRule(
            name: "twitter-avatar", hosts: ["pbs.twimg.com"],
            pattern:
                #"^(?<head>https?://[^/]+/profile_images/\d+/[^/?#]+?)_(?<scope>normal|bigger|mini|\d+x\d+)(?<ext>\.\w+)(?:[?#].*)?$"#,
            find: [#"^(?<width>\d+)x(?<height>\d+)$"#, #"^(?<size>[a-z]+)$"#], origin: "${head}${ext}",
            sizes: ["normal": 48, "bigger": 73, "mini": 24], mode: .crop),
        // Twitter/X media: every form names one original, `https://pbs.twimg.com/media/<id>?format=<type>&name=orig`.
        // The extension (`<id>.jpg:small`, 2011-2018; `<id>.png?format=jpg&name=360x360`, TweetDeck) is the
        // original's type and wins over `format=` (a JPEG rendition of a PNG); without one, `format=` says it.
        CDNRule(
            name: "twitter-media", hosts: ["pbs.twimg.com"],
            pattern:
                #"^https?://[^/]+/media/(?<id>[A-Za-z0-9_-]+)\.(?<ext>[a-z]+)(?::(?<size>[a-z]+))?(?:\?(?<scope>[^#]*))?(?:#.*)?$"#,
            find: twitterNameFinds, origin: "https://pbs.twimg.com/media/${id}?format=${ext}&name=orig",
            sizes: twitterSizes, mode: .longEdge, modes: ["thumb": .crop]),
        CDNRule(
            name: "twitter-media", hosts: ["pbs.twimg.com"],
            pattern:
                #"^https?://[^/]+/media/(?<id>[A-Za-z0-9_-]+)\?(?<scope>(?:[^#]*&)?format=(?<ext>[a-z]+)[^#]*)(?:#.*)?$"#,
            find: twitterNameFinds, origin: "https://pbs.twimg.com/media/${id}?format=${ext}&name=orig",
            sizes: twitterSizes, mode: .longEdge, modes: ["thumb": .crop]),
        // Other paths (card_img, video thumbnails): `name=` set to orig, or the legacy `:size` made `:orig`.
        CDNRule(
            name: "twitter", hosts: ["pbs.twimg.com"],
            pattern: #"^(?<origin>https?://[^/]+/[^?#]+\?(?:[^#]*&)?name=(?<scope>[a-z0-9]+)[^#]*)"#,
            find: [#"^(?<width>\d+)x(?<height>\d+)$"#, #"^(?<size>[a-z]+)$"#],
            sizes: twitterSizes, mode: .longEdge, modes: ["thumb": .crop], setParams: ["name": "orig"]),
        CDNRule(
            name: "twitter-legacy", hosts: ["pbs.twimg.com"],
            pattern: #"^(?<head>https?://[^/]+/[^?#:]+\.\w+):(?<size>[a-z]+)$"#, origin: "${head}:orig",
            sizes: twitterSizes, mode: .longEdge, modes: ["thumb": .crop]),
        CDNRule(
            name: "pinterest", hosts: ["i.pinimg.com"],
            pattern:
                #"^(?<base>https?://[^/]+/)(?<scope>\d+x\d*(?:_[A-Z]+)?)/(?<rest>[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{2}/[^?#]+)"#,
            find: [#"^(?<width>\d+)x(?<height>\d*)"#], origin: "${base}originals/${rest}", mode: .fitInside),
        CDNRule(
            name: "wikimedia", hosts: ["upload.wikimedia.org"],
            pattern:
                #"^(?<head>https?://[^/]+/[^/]+/[^/]+/)thumb/(?<file>[0-9a-f]/[0-9a-f]{2}/[^/?#]+)/(?:[a-z0-9-]*-)?(?<width>\d+)px-[^/?#]+$"#,
            origin: "${head}${file}", mode: .fitInside),
        CDNRule(
            name: "youtube", hosts: ["i.ytimg.com", "img.youtube.com"],
            pattern:
                #"^(?<base>https?://[^/]+/vi(?:_webp)?/[^/?#]+/)(?<size>default|mqdefault|hqdefault|sddefault|maxresdefault|hq720|0)(?<ext>\.\w+)(?:[?#].*)?$"#,
            origin: "${base}maxresdefault${ext}",
            // `0.jpg` is the oldest name of the 480x360 frame; `hq720` (1280x720) the newest.
            sizes: [
                "default": 120, "mqdefault": 320, "hqdefault": 480, "sddefault": 640, "maxresdefault": 1280,
                "hq720": 1280,
                "0": 480,
            ],
            mode: .crop),
        CDNRule(
            name: "wordpress-com", hosts: ["*.files.wordpress.com"], subject: .queryItem,
            pattern: #"^w=(?<width>\d+)$"#, mode: .fitInside, removeParams: ["h", "crop", "resize", "fit"]),
    ]

    static let flickrHosts = #"^(?:(?:live|farm\d+|c\d+)\.staticflickr\.com|(?:farm\d+\.)?static\.flickr\.com)$"#
    /// Long edges; `o` (original) has none.
    static let flickrSizes = [
        "s": 75, "q": 150, "t": 100, "m": 240, "n": 320, "w": 400, "z": 640, "c": 800, "b": 1024, "h": 1600, "k": 2048,
        "3k": 3072, "4k": 4096, "5k": 5120, "6k": 6144,
    ]
    static let twitterSizes = ["thumb": 150, "small": 680, "medium": 1200, "large": 2048]
    static let twitterNameFinds = [
        #"(?:^|&)name=(?<width>\d+)x(?<height>\d+)(?:&|$)"#, #"(?:^|&)name=(?<size>[a-z]+)(?:&|$)"#,
    ]

    static let googleFinds = [
        #"^s(?<width>\d+)"#, #"(?:^|-)w(?<width>\d+)"#, #"(?:^|-)h(?<height>\d+)"#, #"^(?<mode>s|w|h)\d"#,
    ]
    static let googleModes: [String: ResizeMode] = ["s": .longEdge, "w": .fitInside, "h": .fitInside]

    // MARK: Syntax rules: processors behind custom domains, matched on any host.

    static let syntaxRules: [CDNRule] = [
        CDNRule(
            name: "netease-imageView", requires: ["?imageView"],
            pattern: #"^(?<origin>https?://[^?#]+)\?(?<scope>imageView(?:&[^#]*)?)(?:#.*)?$"#,
            find: [#"(?:^|&)thumbnail=(?<width>\d+)(?<mode>[xyz])(?<height>\d+)"#],
            modes: ["x": .fitInside, "y": .crop, "z": .cover]),
        CDNRule(
            name: "qiniu-imageView2", requires: ["imageView2"], subject: .queryItem,
            pattern: #"^(?:imageMogr2/[^|]*\|)*imageView2/(?<mode>\d)(?<scope>(?:/[^/|]+/[^/|]*)*)"#,
            find: [#"/w/(?<width>\d+)"#, #"/h/(?<height>\d+)"#],
            modes: ["0": .longEdge, "1": .crop, "2": .fitInside, "3": .cover, "4": .cover, "5": .crop]),
        CDNRule(
            name: "qiniu-imageMogr2", requires: ["imageMogr2"], subject: .queryItem,
            pattern: #"^imageMogr2/(?<scope>[^|]*)"#,
            find: [#"(?:^|/)thumbnail/!?(?<width>\d*)x(?<height>\d*)(?<mode>[!<>r]?)"#],
            mode: .fitInside, modes: ["r": .crop, "!": .exact]),
        CDNRule(
            name: "aliyun-oss", requires: ["x-oss-process"], subject: .queryItem,
            pattern: #"^x-oss-process=(?<scope>.*)$"#,
            find: [
                #"(?:^|/)resize,(?:[^/]*,)?w_(?<width>\d+)"#, #"(?:^|/)resize,(?:[^/]*,)?h_(?<height>\d+)"#,
                #"(?:^|/)resize,(?:[^/]*,)?m_(?<mode>[a-z]+)"#,
            ],
            mode: .fitInside,
            modes: ["lfit": .fitInside, "mfit": .cover, "fill": .crop, "pad": .fitInside, "fixed": .exact],
            signed: ["Signature", "x-oss-signature"]),
        CDNRule(
            name: "upyun", requires: ["!/", "%21/"],
            pattern:
                #"^(?<origin>https?://[^!?#]+?)(?:!|%21)/(?<scope>(?:fw|fh|fwfh|fp|sq|both|max|min|scale|clip|crop|quality|unsharp|compress|rotate|format|watermark|gaussblur|force|strip|progressive)/[^?#]*)"#,
            find: [
                #"(?:^|/)(?<mode>fw|fwfh|both|sq|max)/(?<width>\d+)"#, #"(?:^|/)(?:fwfh|both)/\d+x(?<height>\d+)"#,
                #"(?:^|/)fh/(?<height>\d+)"#,
            ],
            mode: .fitInside,
            modes: ["fw": .fitInside, "fwfh": .fitInside, "both": .exact, "sq": .crop, "max": .longEdge],
            signed: ["_upt"]),
        CDNRule(
            name: "image-style-bang", requires: ["!"],
            pattern: #"^(?<origin>https?://[^?#!]+\.\#(image))!(?<scope>[^/?#]+)$"#,
            find: [#"^(?<width>\d+)x(?<height>\d+)$"#], mode: .fitInside),
        CDNRule(
            name: "aliyun-style-at", requires: ["@"],
            pattern: #"^(?<origin>https?://[^?#@]+\.\#(image))@(?<scope>[^/?#]+)$"#,
            find: [
                #"(?:^|_)(?<width>\d+)w(?:_|\.|$)"#, #"(?:^|_)(?<height>\d+)h(?:_|\.|$)"#, #"_(?<mode>1c)(?:_|\.|$)"#,
            ],
            mode: .fitInside, modes: ["1c": .crop]),
    ]

    // MARK: Filename-suffix rules, gated by path.

    static let wordpressPaths = ["/wp-content/uploads/", "/wp/uploads/", "/blogs.dir/"]

    static let suffixRules: [CDNRule] = [
        CDNRule(
            name: "wordpress-size", requires: wordpressPaths,
            pattern:
                #"^(?=https?://[^?#]*/(?:wp-content/uploads|wp/uploads|blogs\.dir)/)(?<head>[^?#]*?)-(?<width>\d+)x(?<height>\d+)(?:(?<mode>_c|-c)(?:-[a-z]+)*)?(?:@[2-4]x)?(?<ext>\.\#(image)(?:\.webp|\.avif)?)(?<query>\?[^#]*)?(?:#.*)?$"#,
            origin: "${head}${ext}${query}", modes: ["_c": .crop, "-c": .crop]),
        CDNRule(
            name: "wordpress-scaled", requires: wordpressPaths,
            pattern:
                #"^(?=https?://[^?#]*/(?:wp-content/uploads|wp/uploads|blogs\.dir)/)(?<head>[^?#]*?)-scaled(?<ext>\.\#(image))(?<query>\?[^#]*)?(?:#.*)?$"#,
            origin: "${head}${ext}${query}"),
        CDNRule(
            name: "discourse", requires: ["/optimized/"],
            pattern:
                #"^(?<head>https?://[^?#]+/uploads/[^/]+/)optimized/(?<path>\d+X/(?:[0-9a-f]{1,2}/)*[0-9a-f]{40})_\d+_(?<width>\d+)x(?<height>\d+)(?<ext>\.\w+)(?:[?#].*)?$"#,
            origin: "${head}original/${path}${ext}", mode: .fitInside),
    ]
}
