import ImgArchiveCore
import ImgArchiveFetch
import ImgArchiveStore

extension FetchSettings {
    /// A request as every fetch makes it: the host profile's headers, the Referer ladder after a 403, and the
    /// validators of a revalidation.
    func request(_ url: String, temporaryDirectory: String, need: FetchNeed? = nil) -> DownloadRequest {
        let host = FetchPlanning.host(of: url) ?? ""
        let profile = HostProfile.first(in: hostProfiles, host: host)
        let headers = (profile?.headers ?? []).map { HTTPHeaderField(name: $0.name, value: $0.value) }
        let sent = profile?.headers.first { $0.name.lowercased() == "referer" }?.value
        let revalidating = need?.reason == .revalidate
        return DownloadRequest(
            url: url, temporaryDirectory: temporaryDirectory, headers: headers,
            refererLadder: FetchPlanning.refererLadder(imageURL: url, siteURL: siteURL, sentReferer: sent),
            ifNoneMatch: revalidating ? need?.etag : nil, ifModifiedSince: revalidating ? need?.lastModified : nil)
    }
}
