// Command waypoint-standin is a STAND-IN for the vendor's enterprise-agentgateway
// controller, for the mtm testbed only. It reproduces the one behaviour the workshop
// observes: a Gateway of class enterprise-agentgateway-waypoint gets a Deployment (and so a
// pod) labelled gateway.networking.k8s.io/gateway-name=<gateway> in the Gateway's
// namespace, and that Deployment goes away when the Gateway goes. It does not program any
// data plane, does not write Gateway status and does not read the parameters reference.
//
// It is level-triggered: informer events only wake the loop, and every pass compares all
// waypoint Gateways with all Deployments it manages.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	gatewayNameLabel = "gateway.networking.k8s.io/gateway-name"
	managedByLabel   = "app.kubernetes.io/managed-by"
	managedByValue   = "mtm-testbed-waypoint-standin"
)

var gatewayGVR = schema.GroupVersionResource{
	Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways",
}

type standin struct {
	kube      kubernetes.Interface
	gateways  cache.GenericLister
	deploys   appslisters.DeploymentLister
	className string
	image     string
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "path of the kubeconfig to use (required)")
	className := flag.String("gateway-class", "enterprise-agentgateway-waypoint", "GatewayClass whose Gateways get a waypoint pod")
	image := flag.String("image", "stand-in.invalid/enterprise-agentgateway-waypoint:standin", "image named in the pod spec (kwok never pulls it)")
	resync := flag.Duration("resync", 5*time.Second, "interval of the full comparison pass")
	flag.Parse()
	if *kubeconfig == "" {
		log.Fatal("waypoint-standin: --kubeconfig is required")
	}
	log.SetPrefix("waypoint-standin: ")

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("load kubeconfig: %v", err)
	}
	kube := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	gwFactory := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	gwInformer := gwFactory.ForResource(gatewayGVR)
	depFactory := informers.NewSharedInformerFactoryWithOptions(kube, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = managedByLabel + "=" + managedByValue
		}))
	depInformer := depFactory.Apps().V1().Deployments()

	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	}
	if _, err := gwInformer.Informer().AddEventHandler(handler); err != nil {
		log.Fatalf("watch gateways: %v", err)
	}
	if _, err := depInformer.Informer().AddEventHandler(handler); err != nil {
		log.Fatalf("watch deployments: %v", err)
	}
	gwFactory.Start(ctx.Done())
	depFactory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), gwInformer.Informer().HasSynced, depInformer.Informer().HasSynced) {
		log.Fatal("caches did not sync (are the Gateway API CRDs installed?)")
	}
	log.Printf("watching Gateways of class %s", *className)

	s := &standin{kube: kube, gateways: gwInformer.Lister(), deploys: depInformer.Lister(), className: *className, image: *image}
	ticker := time.NewTicker(*resync)
	defer ticker.Stop()
	for {
		s.reconcile(ctx)
		select {
		case <-ctx.Done():
			log.Print("stopping")
			return
		case <-wake:
		case <-ticker.C:
		}
	}
}

// reconcile makes the managed Deployments match the waypoint Gateways of the configured class.
func (s *standin) reconcile(ctx context.Context) {
	objs, err := s.gateways.List(labels.Everything())
	if err != nil {
		log.Printf("list gateways: %v", err)
		return
	}
	wanted := map[string]*unstructured.Unstructured{}
	for _, obj := range objs {
		gw, ok := obj.(*unstructured.Unstructured)
		if !ok || gw.GetDeletionTimestamp() != nil {
			continue
		}
		class, _, _ := unstructured.NestedString(gw.Object, "spec", "gatewayClassName")
		if class == s.className {
			wanted[gw.GetNamespace()+"/"+gw.GetName()] = gw
		}
	}

	deploys, err := s.deploys.List(labels.Everything())
	if err != nil {
		log.Printf("list deployments: %v", err)
		return
	}
	have := map[string]*appsv1.Deployment{}
	for _, d := range deploys {
		key := d.Namespace + "/" + d.Labels[gatewayNameLabel]
		gw, ok := wanted[key]
		if ok && ownedBy(d, gw) {
			have[key] = d
			continue
		}
		// The Gateway is gone, changed class, or was recreated under the same name.
		s.delete(ctx, d)
	}

	for key, gw := range wanted {
		if _, ok := have[key]; !ok {
			s.create(ctx, gw)
		}
	}
}

func ownedBy(d *appsv1.Deployment, gw *unstructured.Unstructured) bool {
	for _, ref := range d.OwnerReferences {
		if ref.UID == gw.GetUID() {
			return true
		}
	}
	return false
}

func (s *standin) delete(ctx context.Context, d *appsv1.Deployment) {
	if d.DeletionTimestamp != nil {
		return
	}
	policy := metav1.DeletePropagationBackground
	err := s.kube.AppsV1().Deployments(d.Namespace).Delete(ctx, d.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
	if err != nil && !apierrors.IsNotFound(err) {
		log.Printf("delete deployment %s/%s: %v", d.Namespace, d.Name, err)
		return
	}
	log.Printf("deleted deployment %s/%s", d.Namespace, d.Name)
}

func (s *standin) create(ctx context.Context, gw *unstructured.Unstructured) {
	d := s.deploymentFor(gw)
	_, err := s.kube.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{FieldManager: managedByValue})
	switch {
	case apierrors.IsAlreadyExists(err):
		// Either ours and still being deleted (the next pass creates it), or someone
		// else's Deployment of that name, which a stand-in must not take over.
		log.Printf("deployment %s/%s exists and is not (yet) this Gateway's; will retry", d.Namespace, d.Name)
	case err != nil:
		log.Printf("create deployment %s/%s: %v", d.Namespace, d.Name, err)
	default:
		log.Printf("created deployment %s/%s for gateway %s", d.Namespace, d.Name, gw.GetName())
	}
}

func (s *standin) deploymentFor(gw *unstructured.Unstructured) *appsv1.Deployment {
	podLabels := map[string]string{
		gatewayNameLabel:         gw.GetName(),
		"app.kubernetes.io/name": gw.GetName(),
	}
	objLabels := map[string]string{managedByLabel: managedByValue}
	for k, v := range podLabels {
		objLabels[k] = v
	}
	replicas := int32(1)
	controller := true
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:      gw.GetName(),
			Namespace: gw.GetNamespace(),
			Labels:    objLabels,
			Annotations: map[string]string{
				"mtm.dev/stand-in": "testbed stand-in for the enterprise-agentgateway waypoint controller",
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: gatewayGVR.GroupVersion().String(),
				Kind:       "Gateway",
				Name:       gw.GetName(),
				UID:        gw.GetUID(),
				Controller: &controller,
			}},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{gatewayNameLabel: gw.GetName()}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:  "agentgateway",
						Image: s.image,
						Ports: []corev1.ContainerPort{
							{Name: "hbone", ContainerPort: 15008},
							{Name: "status", ContainerPort: 15021},
						},
					}},
				},
			},
		},
	}
}
