// The Deployments in deploy/: probes, resources, a locked-down security context, replicas, and
// args that the CLI actually accepts (read from each command's --help, so a renamed flag fails here).
import { expect } from "chai";
import path from "node:path";
import { cliFlags } from "./cli-help.ts";
import { defaultInstallDir, exampleOverlayDir, objectLabel, objectsOf } from "./layout.ts";
import type { KubeObject } from "./kustomize.ts";

function deployments(dir: string): KubeObject[] {
  return objectsOf(dir).filter((o) => o.kind === "Deployment");
}

describe("deploy/ workloads", () => {
  for (const dir of [defaultInstallDir, exampleOverlayDir]) {
    describe(dir.endsWith("example") ? "example overlay" : "default install", () => {
      it("probes every container: liveness on /healthz, readiness on /readyz, at a declared port", () => {
        for (const deployment of deployments(dir)) {
          for (const container of deployment.spec.template.spec.containers) {
            const ports = (container.ports ?? []).flatMap((p: any) => [p.name, p.containerPort]);
            for (const [probe, pathName] of [
              ["livenessProbe", "/healthz"],
              ["readinessProbe", "/readyz"],
            ] as const) {
              const httpGet = container[probe]?.httpGet;
              expect(httpGet?.path, `${objectLabel(deployment)} ${container.name} ${probe}`).to.equal(pathName);
              expect(ports, `${objectLabel(deployment)} ${probe} port`).to.include(httpGet.port);
            }
          }
        }
      });

      it("sets CPU and memory requests and limits on every container", () => {
        for (const deployment of deployments(dir)) {
          for (const container of deployment.spec.template.spec.containers) {
            for (const kind of ["requests", "limits"]) {
              expect(
                Object.keys(container.resources?.[kind] ?? {}),
                `${objectLabel(deployment)} ${container.name} ${kind}`,
              ).to.include.members(["cpu", "memory"]);
            }
          }
        }
      });

      it("runs non-root with a read-only root filesystem, no capabilities, no privilege escalation, seccomp RuntimeDefault", () => {
        for (const deployment of deployments(dir)) {
          const pod = deployment.spec.template.spec;
          expect(pod.securityContext.runAsNonRoot, objectLabel(deployment)).to.equal(true);
          expect(pod.securityContext.runAsUser, objectLabel(deployment)).to.be.greaterThan(0);
          expect(pod.securityContext.seccompProfile?.type, objectLabel(deployment)).to.equal("RuntimeDefault");
          expect(pod.hostNetwork ?? false).to.equal(false);
          for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
            const context = container.securityContext ?? {};
            expect(context.allowPrivilegeEscalation, container.name).to.equal(false);
            expect(context.readOnlyRootFilesystem, container.name).to.equal(true);
            expect(context.capabilities?.drop, container.name).to.deep.equal(["ALL"]);
            expect(context.capabilities?.add, container.name).to.equal(undefined);
            expect(context.privileged ?? false, container.name).to.equal(false);
          }
        }
      });

      it("runs at least 2 replicas of the operator (leader election) and the gateway", () => {
        for (const deployment of deployments(dir)) {
          const command = deployment.spec.template.spec.containers[0].args[0];
          if (command === "operator" || command === "gateway") expect(deployment.spec.replicas, objectLabel(deployment)).to.be.at.least(2);
        }
      });

      it("mounts only ConfigMaps the install ships, and --config names a key of the mounted one", () => {
        const objects = objectsOf(dir);
        for (const deployment of deployments(dir)) {
          const pod = deployment.spec.template.spec;
          const container = pod.containers[0];
          for (const volume of pod.volumes ?? []) {
            if (!volume.configMap) continue;
            const configMap = objects.find(
              (o) =>
                o.kind === "ConfigMap" &&
                o.metadata.namespace === deployment.metadata.namespace &&
                o.metadata.name === volume.configMap.name,
            );
            expect(configMap, `${objectLabel(deployment)} volume ${volume.name}`).to.not.equal(undefined);
          }
          const configArg = (container.args as string[]).find((arg) => arg.startsWith("--config="));
          if (!configArg) continue;
          const file = configArg.slice("--config=".length);
          const mount = container.volumeMounts.find((m: any) => path.posix.dirname(file) === m.mountPath);
          const volume = pod.volumes.find((v: any) => v.name === mount?.name);
          const configMap = objects.find(
            (o) =>
              o.kind === "ConfigMap" &&
              o.metadata.name === volume?.configMap?.name &&
              o.metadata.namespace === deployment.metadata.namespace,
          );
          expect(Object.keys(configMap?.data ?? {}), `${objectLabel(deployment)} ${configArg}`).to.include(path.posix.basename(file));
        }
      });

      it("points the gateway's lifecycle URL at the API server's Service", () => {
        const objects = objectsOf(dir);
        const gateway = deployments(dir).find((d) => d.spec.template.spec.containers[0].args[0] === "gateway")!;
        const arg = (gateway.spec.template.spec.containers[0].args as string[]).find((a) => a.startsWith("--lifecycle-url="));
        const url = new URL(arg!.slice("--lifecycle-url=".length));
        const [name, namespace] = url.hostname.split(".");
        expect(url.hostname).to.equal(`${name}.${namespace}.svc.cluster.local`);
        const service = objects.find((o) => o.kind === "Service" && o.metadata.name === name && o.metadata.namespace === namespace);
        expect(service?.spec.ports.map((p: any) => p.port)).to.include(Number(url.port));
        const target = deployments(dir).find((d) =>
          Object.entries(service!.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v),
        )!;
        expect(target.spec.template.spec.containers[0].args[0]).to.equal("apiserver");
      });

      it("runs all three commands from one image", () => {
        const images = deployments(dir).map((d) => d.spec.template.spec.containers[0].image);
        const commands = deployments(dir).map((d) => d.spec.template.spec.containers[0].args[0]);
        expect(new Set(images).size).to.equal(1);
        expect(commands.sort()).to.deep.equal(["apiserver", "gateway", "operator"]);
      });
    });
  }

  it("passes only flags each command accepts, and listens where the probes and Services look", async function () {
    this.timeout(60_000);
    const all = deployments(defaultInstallDir);
    const flagSets = await Promise.all(all.map((d) => cliFlags(d.spec.template.spec.containers[0].args[0])));
    for (const [index, deployment] of all.entries()) {
      const container = deployment.spec.template.spec.containers[0];
      const [command, ...args] = container.args as string[];
      const flags = flagSets[index];
      for (const arg of args) {
        const flag = arg.split("=")[0];
        expect(flags.has(flag), `${objectLabel(deployment)}: "${command}" has no flag ${flag}`).to.equal(true);
      }
      // The port flag's value is the declared container port (probes and Services target it).
      const portArg = args.find((arg) => /^--(metrics-)?port=/.test(arg));
      expect(portArg, `${objectLabel(deployment)} sets its port explicitly`).to.not.equal(undefined);
      expect(container.ports.map((p: any) => p.containerPort)).to.include(Number(portArg!.split("=")[1]));
    }
  });
});
