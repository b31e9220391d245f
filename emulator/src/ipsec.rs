//! IPsec connections as the emulated firewall shows them to a read-only
//! Get: one `<Configuration>` per connection with the fields docs/import.md
//! lists (name, type, remote gateway, local WAN port, local subnets, remote
//! networks, status) and a hashed preshared key, which a client must never
//! print or keep. failoverd never writes connections, so neither does the
//! emulator: tests put them in place with `Emulator::add_connection`.

use crate::xml::escape;

/// One IPsec connection.
#[derive(Clone, PartialEq, Eq)]
pub struct IpsecConnection {
    pub name: String,
    /// `SiteToSite`, `TunnelInterface`, `HostToHost`.
    pub connection_type: String,
    /// The peer's gateway address (or name); `*` for a responder-only peer.
    pub remote_host: String,
    /// The local WAN port, e.g. `PortB`.
    pub local_wan_port: String,
    /// One entry per subnet; `Any` for a tunnel interface.
    pub local_subnets: Vec<String>,
    pub remote_networks: Vec<String>,
    /// `Active`, `Inactive`.
    pub status: String,
    /// Stands for the hashed key live firmware returns.
    pub preshared_key: String,
}

/// Leaves the preshared key out.
impl std::fmt::Debug for IpsecConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpsecConnection")
            .field("name", &self.name)
            .field("connection_type", &self.connection_type)
            .field("remote_host", &self.remote_host)
            .field("local_wan_port", &self.local_wan_port)
            .field("local_subnets", &self.local_subnets)
            .field("remote_networks", &self.remote_networks)
            .field("status", &self.status)
            .field("preshared_key", &"********")
            .finish()
    }
}

impl IpsecConnection {
    /// A site-to-site connection through `port` to `remote_host`.
    pub fn site_to_site(name: &str, remote_host: &str, port: &str, local: &[&str], remote: &[&str]) -> Self {
        IpsecConnection {
            name: name.to_string(),
            connection_type: "SiteToSite".to_string(),
            remote_host: remote_host.to_string(),
            local_wan_port: port.to_string(),
            local_subnets: local.iter().map(|s| s.to_string()).collect(),
            remote_networks: remote.iter().map(|s| s.to_string()).collect(),
            status: "Active".to_string(),
            preshared_key: format!("$sfos$hash${}", name.len() * 7919),
        }
    }

    /// A route-based connection: local and remote networks are `Any`.
    pub fn tunnel_interface(name: &str, remote_host: &str, port: &str) -> Self {
        IpsecConnection {
            connection_type: "TunnelInterface".to_string(),
            ..IpsecConnection::site_to_site(name, remote_host, port, &["Any"], &["Any"])
        }
    }
}

/// The `<Configuration>` of a Get reply, with the other fields live
/// firmware shows around the ones failoverd reads.
pub fn render(c: &IpsecConnection) -> String {
    let mut xml = format!(
        "<Configuration><Name>{}</Name><Description></Description><ConnectionType>{}</ConnectionType>\
         <Policy>IKEv2</Policy><ActionOnVPNRestart>Initiate</ActionOnVPNRestart>\
         <AuthenticationType>PresharedKey</AuthenticationType><PresharedKey>{}</PresharedKey>\
         <SubnetFamily>Dual</SubnetFamily><EndpointFamily>IPv4</EndpointFamily>\
         <AliasLocalWANPort>{}</AliasLocalWANPort><RemoteHost>{}</RemoteHost>",
        escape(&c.name),
        escape(&c.connection_type),
        escape(&c.preshared_key),
        escape(&c.local_wan_port),
        escape(&c.remote_host),
    );
    for s in &c.local_subnets {
        xml.push_str(&format!("<LocalSubnet>{}</LocalSubnet>", escape(s)));
    }
    xml.push_str("<LocalID></LocalID><RemoteID></RemoteID><RemoteNetwork>");
    for n in &c.remote_networks {
        xml.push_str(&format!("<Network>{}</Network>", escape(n)));
    }
    xml.push_str(&format!(
        "</RemoteNetwork><Status>{}</Status></Configuration>",
        escape(&c.status)
    ));
    xml
}
