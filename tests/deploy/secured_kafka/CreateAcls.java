// Creates the ACL bindings read from stdin, one per line, tab-separated:
//   principal, resource type, resource name, pattern type, operation, permission, host
// (Kafka's own names: User:carnet-wallet, TOPIC, wallet.wallets, LITERAL, READ, ALLOW, *), with Kafka's own
// Admin client, then waits until the broker's authorizer lists them all. Run by tests/deploy/secured_kafka:
//   java -cp 'deploy/local/lib/*' CreateAcls.java <bootstrap> < bindings.tsv
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class CreateAcls {
    public static void main(String[] args) throws Exception {
        List<AclBinding> bindings = new ArrayList<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            if (line.isBlank()) continue;
            String[] f = line.split("\t");
            ResourcePattern pattern = new ResourcePattern(ResourceType.valueOf(f[1]), f[2], PatternType.valueOf(f[3]));
            AccessControlEntry entry = new AccessControlEntry(f[0], f[6], AclOperation.valueOf(f[4]),
                                                              AclPermissionType.valueOf(f[5]));
            bindings.add(new AclBinding(pattern, entry));
        }
        Properties config = new Properties();
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        try (Admin admin = Admin.create(config)) {
            admin.createAcls(bindings).all().get();
            Set<AclBinding> wanted = new HashSet<>(bindings);
            // a barrier, not a pause: the broker answers from the authorizer that will judge the clients
            while (!new HashSet<>(admin.describeAcls(AclBindingFilter.ANY).values().get()).containsAll(wanted)) {
                Thread.sleep(100);
            }
        }
        System.out.println(bindings.size());
    }
}
